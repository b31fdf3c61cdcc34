import { serve } from './runtime/serve.ts';

// `npm start`: run Subledger until a signal or an uncaught error, then exit. What the
// instance does comes from SUBLEDGER_ROLE (all, api or worker; `subledger serve --role` too).
process.exit(await serve(process.env));
