import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { jsonSchema, jsonSchemaText, SCHEMA_ID } from '../../src/config/schema.js';

describe('JSON Schema', () => {
  it('is committed and up to date (run `npm run schema` after changing src/config/schema.ts)', () => {
    const committed = readFileSync(new URL('../../schema/boxship.schema.json', import.meta.url), 'utf8');
    expect(committed).toBe(jsonSchemaText());
  });

  it('describes what users write: strict, described, with defaults and the address format', () => {
    const schema = jsonSchema() as {
      $id: string;
      title: string;
      required: string[];
      additionalProperties: boolean;
      properties: Record<
        string,
        { description?: string; default?: unknown; additionalProperties?: unknown; properties?: Record<string, { default?: unknown }> }
      >;
    };
    expect(schema.$id).toBe(SCHEMA_ID);
    expect(schema.title).toBe('boxship.yml');
    expect(schema.required).toEqual(['service', 'hosts']);
    expect(schema.additionalProperties).toBe(false);
    for (const [key, property] of Object.entries(schema.properties)) expect(property.description, key).toBeTruthy();
    expect(schema.properties.healthcheck!.additionalProperties).toBe(false);
    expect(schema.properties.proxy!.properties!.image!.default).toBe('boxship-proxy:caddy-2.6.2');
    expect(schema.properties.healthcheck!.properties!.interval!.default).toBe('1s');
  });

  it('gives every field a description', () => {
    const missing: string[] = [];
    // Walks properties, list items and anyOf options: every key a user can write must say what it is.
    const visit = (node: unknown, at: string) => {
      if (typeof node !== 'object' || node === null) return;
      const n = node as { properties?: Record<string, unknown>; items?: unknown; anyOf?: unknown[] };
      for (const [key, child] of Object.entries(n.properties ?? {})) {
        if (!(child as { description?: string }).description) missing.push(`${at}${key}`);
        visit(child, `${at}${key}.`);
      }
      visit(n.items, at);
      for (const option of n.anyOf ?? []) visit(option, at);
    };
    visit(jsonSchema(), '');
    expect(missing).toEqual([]);
  });
});
