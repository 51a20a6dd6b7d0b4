#!/usr/bin/env node
import { daemonMain } from '../dist/src/daemon/main.js';
daemonMain(process.argv.slice(2));
