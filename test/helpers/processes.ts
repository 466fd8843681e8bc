// Real child processes for end-to-end tests: the same helpers the chaos suite uses.
export {
  childEnv,
  exitWithin,
  isRunning,
  type Service,
  startService,
  stopService,
} from '../../chaos/processes.js';
