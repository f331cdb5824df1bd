#!/usr/bin/env node
// Runs the compiled CLI; build first with `pnpm build` at the repo root, or run from source:
// node --conditions=@karman/source --import tsx apps/bench/src/main.ts <command> [flags]
import "../dist/main.js";
