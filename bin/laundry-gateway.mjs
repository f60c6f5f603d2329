#!/usr/bin/env node
// Entry point of the `laundry-gateway` command: the daemon (`run`) and the diagnostics CLI.
// TypeScript sources run through tsx's loader, so a checkout runs without a build step.
import { register } from 'tsx/esm/api';

register();
await import('../gateway/cli/main.ts');
