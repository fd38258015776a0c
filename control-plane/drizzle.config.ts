import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './control-plane/src/db/schema.ts',
  out: './migrations',
});
