import type { Catalog } from '../domain/catalog.ts';
import type { CliIo } from './io.ts';

/** The catalog the service would load, for the commands that need it and no database. */
export async function catalogOf(io: CliIo): Promise<Catalog> {
  const [{ loadConfig }, { loadCatalog }] = await Promise.all([
    import('../config/config.ts'),
    import('../config/catalog-file.ts'),
  ]);
  return loadCatalog(loadConfig(io.env).catalogPath);
}
