import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertLogsReadable, logAttributes, parseDecimalSize, parseLogConfig, shimLogSettings } from '../../../src/engine/logs/config.js';
import { isCode, makeRecord } from './helpers.js';

describe('parseLogConfig (HostConfig.LogConfig, Docker json-file rules)', () => {
  test('absent, or Type "" (only --log-opt given): json-file, options kept', () => {
    assert.deepEqual(parseLogConfig(undefined), { type: 'json-file', config: {} });
    assert.deepEqual(parseLogConfig({ Type: '', Config: {} }), { type: 'json-file', config: {} });
    assert.deepEqual(parseLogConfig({ Type: '', Config: { 'max-size': '1m' } }), { type: 'json-file', config: { 'max-size': '1m' } });
    assert.deepEqual(parseLogConfig({ Type: 'json-file' }), { type: 'json-file', config: {} });
  });

  test('none: accepted, its options ignored as Docker does', () => {
    assert.deepEqual(parseLogConfig({ Type: 'none', Config: { whatever: 'x' } }), { type: 'none', config: { whatever: 'x' } });
  });

  test('other drivers are refused, naming the driver and what is supported', () => {
    for (const driver of ['syslog', 'journald', 'local', 'fluentd', 'awslogs']) {
      assert.throws(() => parseLogConfig({ Type: driver, Config: {} }), (e: unknown) => {
        assert.ok(isCode('UNSUPPORTED_LOG_DRIVER', new RegExp(`log driver "${driver}" is not supported`))(e));
        assert.match((e as { hint: string }).hint, /only the json-file \(default\) and none/);
        return true;
      });
    }
  });

  test('max-size: Docker sizes (decimal), positive; max-file: a whole number >= 1', () => {
    const ok = parseLogConfig({ Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } });
    assert.deepEqual(ok.config, { 'max-size': '10m', 'max-file': '3' });
    assert.throws(() => parseLogConfig({ Type: 'json-file', Config: { 'max-size': 'ten' } }), isCode('INVALID_ARGUMENT', /invalid max-size "ten"/));
    assert.throws(() => parseLogConfig({ Type: 'json-file', Config: { 'max-size': '0' } }), isCode('INVALID_ARGUMENT', /max-size must be a positive number/));
    assert.throws(() => parseLogConfig({ Type: 'json-file', Config: { 'max-size': '-1m' } }), isCode('INVALID_ARGUMENT', /invalid max-size/));
    assert.throws(() => parseLogConfig({ Type: 'json-file', Config: { 'max-file': '0' } }), isCode('INVALID_ARGUMENT', /max-file cannot be less than 1/));
    assert.throws(() => parseLogConfig({ Type: 'json-file', Config: { 'max-file': '2.5' } }), isCode('INVALID_ARGUMENT', /invalid max-file "2.5"/));
  });

  test('max-file without max-size is accepted (Docker: only effective with max-size)', () => {
    assert.deepEqual(parseLogConfig({ Type: 'json-file', Config: { 'max-file': '3' } }).config, { 'max-file': '3' });
  });

  test('unknown options are refused with Docker\'s message', () => {
    assert.throws(() => parseLogConfig({ Type: 'json-file', Config: { 'max-age': '3d' } }), isCode('INVALID_ARGUMENT', /unknown log opt 'max-age' for json-file log driver/));
  });

  test('compress: validated like Docker, then true is refused clearly (rotated files stay uncompressed)', () => {
    assert.throws(() => parseLogConfig({ Type: 'json-file', Config: { compress: 'yes' } }), isCode('INVALID_ARGUMENT', /invalid compress "yes"/));
    assert.throws(() => parseLogConfig({ Type: 'json-file', Config: { compress: 'true', 'max-size': '1m' } }),
      isCode('INVALID_ARGUMENT', /compress cannot be true when max-file is less than 2 or max-size is not set/));
    assert.throws(() => parseLogConfig({ Type: 'json-file', Config: { compress: 'true', 'max-size': '1m', 'max-file': '3' } }),
      isCode('UNSUPPORTED', /compress=true is not supported/));
    assert.deepEqual(parseLogConfig({ Type: 'json-file', Config: { compress: 'false' } }).config, { compress: 'false' });
  });

  test('labels, env, tag and the generic mode options are accepted; bad regexes, templates and modes are not', () => {
    const config = { labels: 'a,b', 'labels-regex': '^app\\.', env: 'E', 'env-regex': '^X_', tag: '{{.Name}}/{{.ID}}', mode: 'non-blocking', 'max-buffer-size': '4m' };
    assert.deepEqual(parseLogConfig({ Type: 'json-file', Config: config }).config, config);
    assert.throws(() => parseLogConfig({ Type: 'json-file', Config: { 'labels-regex': '(' } }), isCode('INVALID_ARGUMENT', /labels-regex: invalid regular expression/));
    assert.throws(() => parseLogConfig({ Type: 'json-file', Config: { tag: '{{.Nope}}' } }), isCode('INVALID_ARGUMENT', /unknown field \{\{\.Nope\}\}/));
    assert.throws(() => parseLogConfig({ Type: 'json-file', Config: { tag: '{{index .ContainerLabels "x"}}' } }), isCode('INVALID_ARGUMENT', /only \{\{\.Field\}\} templates/));
    assert.throws(() => parseLogConfig({ Type: 'json-file', Config: { mode: 'sometimes' } }), isCode('INVALID_ARGUMENT', /logging mode not supported: sometimes/));
    assert.throws(() => parseLogConfig({ Type: 'json-file', Config: { 'max-buffer-size': '4m' } }), isCode('INVALID_ARGUMENT', /only supported with 'mode=non-blocking'/));
  });

  test('malformed bodies are refused', () => {
    assert.throws(() => parseLogConfig('json-file'), isCode('INVALID_ARGUMENT', /LogConfig must be an object/));
    assert.throws(() => parseLogConfig({ Type: 3 }), isCode('INVALID_ARGUMENT', /Type must be a string/));
    assert.throws(() => parseLogConfig({ Type: 'json-file', Config: { 'max-file': 3 } }), isCode('INVALID_ARGUMENT', /log option max-file must be a string/));
  });
});

describe('parseDecimalSize (Docker\'s FromHumanSize)', () => {
  const cases: Array<[string, number | undefined]> = [
    ['1048576', 1048576], ['10k', 10_000], ['10K', 10_000], ['10kb', 10_000], ['10KiB', 10_000], ['1m', 1_000_000],
    ['1.5m', 1_500_000], ['1 m', 1_000_000], ['1g', 1e9], ['2b', 2], ['.5k', 500], ['', undefined], ['m', undefined],
    ['10x', undefined], ['10mbb', undefined], ['-5', undefined],
  ];
  for (const [text, want] of cases) test(`"${text}" → ${want}`, () => assert.equal(parseDecimalSize(text), want));
});

describe('what the shim is told', () => {
  const rec = () => {
    const r = makeRecord('0123456789abcdef'.repeat(4), 'web');
    r.config.labels = { 'app.tier': 'front', 'app.owner': 'ops', other: 'x' };
    r.config.env = ['PATH=/bin', 'X_REGION=eu', 'X_ZONE=b', 'PLAIN=1'];
    r.config.imageId = `sha256:${'fe'.repeat(32)}`;
    r.config.image = 'busybox:latest';
    return r;
  };

  test('records without a log config (written before) get json-file without rotation', () => {
    const r = rec();
    delete r.host.logConfig;
    assert.deepEqual(shimLogSettings(r, '/c/log'), { logPath: '/c/log', logMaxSizeBytes: undefined, logMaxFiles: undefined, logAttrs: undefined });
  });

  test('max-size in bytes (decimal) and max-file; max-file alone rotates nothing', () => {
    const r = rec();
    r.host.logConfig = { type: 'json-file', config: { 'max-size': '1m', 'max-file': '3' } };
    assert.deepEqual(shimLogSettings(r, '/c/log'), { logPath: '/c/log', logMaxSizeBytes: 1_000_000, logMaxFiles: 3, logAttrs: undefined });
    r.host.logConfig = { type: 'json-file', config: { 'max-file': '3' } };
    assert.equal(shimLogSettings(r, '/c/log').logMaxSizeBytes, undefined);
  });

  test('driver none: no log at all', () => {
    const r = rec();
    r.host.logConfig = { type: 'none', config: {} };
    assert.deepEqual(shimLogSettings(r, '/c/log'), {});
  });

  test('attrs like Docker: chosen labels and env values, by name or regex, and the rendered tag, keys sorted', () => {
    const r = rec();
    const attrs = logAttributes(r, { labels: 'other,missing', 'labels-regex': '^app\\.', env: 'PLAIN', 'env-regex': '^X_', tag: '{{.Name}}/{{.ID}}/{{.ImageName}}/{{ .ImageID }}' });
    assert.deepEqual(Object.keys(attrs), ['PLAIN', 'X_REGION', 'X_ZONE', 'app.owner', 'app.tier', 'other', 'tag']);
    assert.equal(attrs['tag'], `web/0123456789ab/busybox:latest/${'fe'.repeat(6)}`);
    assert.equal(attrs['X_REGION'], 'eu');
    r.host.logConfig = { type: 'json-file', config: { tag: '{{.FullID}}' } };
    assert.equal(shimLogSettings(r, '/c/log').logAttrs, JSON.stringify({ tag: r.id }));
  });

  test('logs of a container with driver none: Docker\'s refusal, naming the container', () => {
    const r = rec();
    assertLogsReadable(r);
    r.host.logConfig = { type: 'none', config: {} };
    assert.throws(() => assertLogsReadable(r), isCode('UNSUPPORTED', /container web: configured logging driver does not support reading/));
  });
});
