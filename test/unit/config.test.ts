import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, redactUrl } from '../../shared/runtime/config.js';

describe('loadConfig', () => {
  it('applies the seed defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config.AWS_REGION).toBe('us-east-1');
    expect(config.OPERATION_INTERVAL_MS).toBe(3000);
    expect(config.MAX_OPERATIONS).toBeUndefined();
    expect(config.WORKER_CONCURRENCY).toBe(16);
    expect(config.JOB_ATTEMPTS).toBe(5);
    expect(config.OPERATION_MIX).toEqual({ create: 30, get: 25, update: 20, query: 10, delete: 10, batch: 5 });
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ MAX_OPERATIONS: '', AWS_ENDPOINT_URL_DYNAMODB: ' ' }).MAX_OPERATIONS).toBeUndefined();
  });

  it.each([
    ['WORKER_CONCURRENCY', 'lots', 'expected a whole number'],
    ['WORKER_CONCURRENCY', '0', 'must be at least 1'],
    ['OPERATION_INTERVAL_MS', '1.5', 'expected a whole number'],
    ['INVALID_JOB_RATE', '1.5', 'between 0 and 1'],
    ['OPERATION_MIX', 'create=30,explode=5', 'unknown operation "explode"'],
    ['OPERATION_MIX', 'create', 'not key=weight'],
    ['OPERATION_MIX', 'create=0', 'at least one operation'],
    ['REDIS_URL', 'localhost:6379', 'expected a URL starting with redis://'],
    ['AWS_ENDPOINT_URL_DYNAMODB', 'not a url', 'expected a URL starting with http://'],
    ['CREATE_TABLES', 'maybe', 'expected true or false'],
    ['QUEUE_NAME', 'a:b', 'no ":"'],
    ['LOG_LEVEL', 'loud', 'LOG_LEVEL'],
    ['WORKER_STANDBY_AFTER_MS', '500', 'must be 0 (never stand by) or at least 1000'],
  ])('rejects %s=%s with a message naming it', (key, value, message) => {
    const attempt = () => loadConfig({ [key]: value });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(key);
    expect(attempt).toThrow(message);
  });

  it('reports every bad variable in one message', () => {
    try {
      loadConfig({ WORKER_CONCURRENCY: 'x', JOB_ATTEMPTS: '-1' });
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toMatch(/JOB_ATTEMPTS[\s\S]*WORKER_CONCURRENCY/);
    }
  });

  it('needs both board credentials or neither', () => {
    expect(() => loadConfig({ BOARD_USERNAME: 'admin' })).toThrow('BOARD_USERNAME and BOARD_PASSWORD');
    expect(loadConfig({ BOARD_USERNAME: 'a', BOARD_PASSWORD: 'b' }).BOARD_PASSWORD).toBe('b');
  });
});

describe('Redis TLS and credentials in the config', () => {
  it('accepts rediss:// with a CA file, and a CA file only with rediss://', () => {
    const config = loadConfig({
      REDIS_URL: 'rediss://djq:s3cret@redis.example:6380',
      REDIS_TLS_CA_FILE: '/etc/ca.pem',
    });
    expect(config.REDIS_TLS_CA_FILE).toBe('/etc/ca.pem');
    expect(() =>
      loadConfig({ REDIS_URL: 'redis://djq:s3cret@redis.example:6379', REDIS_TLS_CA_FILE: '/etc/ca.pem' }),
    ).toThrow(/REDIS_TLS_CA_FILE is set but REDIS_URL="redis:\/\/djq:\*\*\*@redis.example:6379" is not rediss:\/\//);
  });

  it('never puts the password of a bad REDIS_URL in the error', () => {
    let message = '';
    try {
      loadConfig({ REDIS_URL: 'http://djq:s3cret@redis.example:6379' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('REDIS_URL="http://djq:***@redis.example:6379/"');
    expect(message).not.toContain('s3cret');
  });

  it.each([
    ['rediss://djq:s3cret@h:6380/0', 'rediss://djq:***@h:6380/0'],
    ['redis://:s3cret@h:6379', 'redis://:***@h:6379'],
    ['redis://h:6379?password=s3cret&db=1', 'redis://h:6379?password=***&db=1'],
    ['redis://h:6379', 'redis://h:6379'],
    ['not a url //u:s3cret@h', 'not a url //u:***@h'],
  ])('redactUrl(%s)', (url, redacted) => {
    expect(redactUrl(url)).toBe(redacted);
  });
});
