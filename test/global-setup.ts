// Starts the shared services once per `npm test` run and hands their addresses to every test file.
import type { TestProject } from 'vitest/node';
import { findRedis, startDynalite } from './helpers/services.js';

export default async function setup(project: TestProject) {
  const redis = await findRedis();
  const dynalite = await startDynalite();
  project.provide('redisUrl', redis.url);
  project.provide('dynamoEndpoint', dynalite.endpoint);
  return async () => {
    await dynalite.stop();
    await redis.stop();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    dynamoEndpoint: string;
  }
}
