#!/usr/bin/env node
// Runs the compiled CLI; build first with `pnpm build` at the repo root.
import "../dist/main.js";
