import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { catalogProblems, type Catalog } from '../domain/catalog.ts';

const id = z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, 'lowercase letters, digits, _ . - only');

const catalogSchema = z.strictObject({
  apps: z
    .array(
      z.strictObject({
        id,
        name: z.string().min(1),
        appStore: z
          .strictObject({ bundleId: z.string().min(1), appAppleId: z.number().int().positive().optional() })
          .optional(),
        playStore: z.strictObject({ packageName: z.string().min(1) }).optional(),
        restoreBehavior: z.enum(['transfer', 'keep']).optional(),
      }),
    )
    .min(1),
  entitlements: z.array(z.strictObject({ id, description: z.string().optional() })),
  products: z.array(
    z.strictObject({
      id,
      appId: id,
      type: z.enum(['auto_renewable', 'non_renewing', 'non_consumable', 'consumable']),
      duration: z
        .string()
        .regex(/^P(\d+[YMWD])+$/, 'an ISO 8601 duration such as P1M or P1Y')
        .optional(),
      storeProductIds: z
        .strictObject({ app_store: z.string().min(1).optional(), play_store: z.string().min(1).optional() })
        .refine((ids) => ids.app_store || ids.play_store, 'name the product id in at least one store'),
      entitlements: z.array(id),
    }),
  ),
});

export class CatalogError extends Error {
  constructor(path: string, problems: readonly string[]) {
    super(`Catalog ${path} is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'CatalogError';
  }
}

/** Reads and validates the catalog file named by CATALOG_PATH. */
export async function loadCatalog(path: string): Promise<Catalog> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new CatalogError(path, [`cannot be read: ${(error as Error).message}`]);
  }
  return parseCatalog(text, path);
}

export function parseCatalog(text: string, path = '(catalog)'): Catalog {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CatalogError(path, [`is not JSON: ${(error as Error).message}`]);
  }
  const parsed = catalogSchema.safeParse(json);
  if (!parsed.success) {
    throw new CatalogError(
      path,
      parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    );
  }
  const problems = catalogProblems(parsed.data);
  if (problems.length > 0) throw new CatalogError(path, problems);
  return parsed.data;
}
