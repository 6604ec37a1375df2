/** Writes schema/boxship.schema.json from the zod schema (npm run schema); a unit test fails when it is stale. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonSchemaText } from '../src/config/schema.js';

const target = fileURLToPath(new URL('../schema/boxship.schema.json', import.meta.url));
mkdirSync(dirname(target), { recursive: true });
writeFileSync(target, jsonSchemaText());
console.log(`wrote ${target}`);
