import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { announceReady } from './ready.js';

// The baseline: the same framework and adapter as the control plane, doing nothing.
const app = new Hono().get('/', (c) => c.text('Hello, world!'));

serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => announceReady(info));

// Exit through process.exit so that --cpu-prof gets to write its profile.
process.on('SIGTERM', () => process.exit(0));
