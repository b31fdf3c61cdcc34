// The ceiling for `npm run bench:app-api`: a bare fastify route, in a process of its own like the service.
import Fastify from 'fastify';

const app = Fastify();
app.get('/', async () => ({ ok: true }));
const address = await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
console.log(address);
