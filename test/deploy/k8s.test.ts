// deploy/k8s/: every manifest is valid against its kind's schema (the Kubernetes API's, from
// kubernetes-models, and KEDA's CRDs, from @kubernetes-models/keda: types, required fields, enums),
// has the fields its kind requires, and refers only to what exists (the Deployment KEDA scales, the
// Secrets and keys the pods and KEDA read, the services' selectors), every variable handed to a pod
// is one the config schema knows, and the KEDA query counts the depth once.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as keda from '@kubernetes-models/keda/keda.sh/v1alpha1';
import * as apps from 'kubernetes-models/apps/v1';
import * as core from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { asObject, isObject, type JsonObject, KNOWN_VARIABLES, ROOT, read } from './support.js';

const DIR = 'deploy/k8s';

interface Manifest {
  file: string;
  kind: string;
  name: string;
  namespace: string | undefined;
  doc: JsonObject;
}

function loadManifests(): Manifest[] {
  const out: Manifest[] = [];
  for (const file of readdirSync(join(ROOT, DIR)).filter((f) => f.endsWith('.yaml'))) {
    for (const doc of parseAllDocuments(read(join(DIR, file)))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
      const data = doc.toJS() as unknown;
      if (data === null) continue;
      const object = asObject(data);
      const metadata = asObject(object.metadata);
      out.push({
        file,
        kind: String(object.kind),
        name: String(metadata.name),
        namespace: metadata.namespace === undefined ? undefined : String(metadata.namespace),
        doc: object,
      });
    }
  }
  return out;
}

const API_VERSIONS: Record<string, string> = {
  Namespace: 'v1',
  ServiceAccount: 'v1',
  Secret: 'v1',
  ConfigMap: 'v1',
  Service: 'v1',
  Deployment: 'apps/v1',
  ScaledObject: 'keda.sh/v1alpha1',
  TriggerAuthentication: 'keda.sh/v1alpha1',
};

/** A model class of kubernetes-models: built from a manifest, validate() throws what its schema rejects. */
type Model = new (data: never) => { validate(): void };

/** The schemas, by apiVersion and kind: the API's own (core, apps) and KEDA's CRDs. */
const MODELS: Record<string, Record<string, Model>> = {
  v1: {
    Namespace: core.Namespace,
    ServiceAccount: core.ServiceAccount,
    Secret: core.Secret,
    ConfigMap: core.ConfigMap,
    Service: core.Service,
  },
  'apps/v1': { Deployment: apps.Deployment },
  'keda.sh/v1alpha1': { ScaledObject: keda.ScaledObject, TriggerAuthentication: keda.TriggerAuthentication },
};

/** What the schemas reject, one line per manifest (empty: every manifest is valid). */
function schemaErrors(manifests: Manifest[]): string[] {
  const found: string[] = [];
  for (const m of manifests) {
    const model = MODELS[String(m.doc.apiVersion)]?.[m.kind];
    if (!model) {
      found.push(`${m.file}: ${m.kind} ${m.name}: no schema for ${m.doc.apiVersion} ${m.kind}`);
      continue;
    }
    try {
      new model(m.doc as never).validate();
    } catch (error) {
      found.push(`${m.file}: ${m.kind} ${m.name}: ${(error as Error).message}`);
    }
  }
  return found;
}

/** Everything wrong with the manifests, as one list (empty: nothing). */
function problems(manifests: Manifest[]): string[] {
  const found: string[] = [];
  const byKind = (kind: string) => manifests.filter((m) => m.kind === kind);
  const named = (kind: string, name: string) => byKind(kind).find((m) => m.name === name);
  const secretKeys = (name: string) => Object.keys(asObject(named('Secret', name)?.doc.stringData ?? {}));
  const configKeys = (name: string) => Object.keys(asObject(named('ConfigMap', name)?.doc.data ?? {}));

  for (const m of manifests) {
    const where = `${m.file}: ${m.kind} ${m.name}`;
    if (API_VERSIONS[m.kind] === undefined) found.push(`${where}: unexpected kind`);
    else if (m.doc.apiVersion !== API_VERSIONS[m.kind]) found.push(`${where}: apiVersion ${m.doc.apiVersion}`);
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(m.name)) found.push(`${where}: not a DNS-1123 name`);
    if (m.kind !== 'Namespace' && m.namespace === undefined) found.push(`${where}: no namespace`);
  }

  for (const m of byKind('Deployment')) {
    const where = `${m.file}: Deployment ${m.name}`;
    const spec = asObject(m.doc.spec);
    const selector = asObject(asObject(spec.selector).matchLabels);
    const template = asObject(spec.template);
    const labels = asObject(asObject(template.metadata).labels);
    for (const [k, v] of Object.entries(selector)) {
      if (labels[k] !== v) found.push(`${where}: selector ${k}=${v} does not match the pod labels`);
    }
    const pod = asObject(template.spec);
    const account = pod.serviceAccountName;
    if (account !== undefined && !named('ServiceAccount', String(account)))
      found.push(`${where}: no ServiceAccount ${account}`);
    const containers = pod.containers;
    if (!Array.isArray(containers) || containers.length === 0) found.push(`${where}: no containers`);
    for (const c of Array.isArray(containers) ? containers.map(asObject) : []) {
      if (typeof c.name !== 'string' || typeof c.image !== 'string')
        found.push(`${where}: a container lacks name/image`);
      const ports = new Set((Array.isArray(c.ports) ? c.ports : []).map((p) => String(asObject(p).name)));
      for (const probe of ['readinessProbe', 'livenessProbe']) {
        const port = asObject(asObject(c[probe] ?? {}).httpGet ?? {}).port;
        if (port !== undefined && !ports.has(String(port))) found.push(`${where}: ${probe} port ${port} not declared`);
      }
      const variables: string[] = [];
      for (const source of Array.isArray(c.envFrom) ? c.envFrom.map(asObject) : []) {
        if (isObject(source.secretRef)) {
          const name = String(source.secretRef.name);
          if (!named('Secret', name)) found.push(`${where}: envFrom Secret ${name} is not defined`);
          variables.push(...secretKeys(name));
        }
        if (isObject(source.configMapRef)) {
          const name = String(source.configMapRef.name);
          if (!named('ConfigMap', name)) found.push(`${where}: envFrom ConfigMap ${name} is not defined`);
          variables.push(...configKeys(name));
        }
      }
      variables.push(...(Array.isArray(c.env) ? c.env.map((e) => String(asObject(e).name)) : []));
      for (const v of variables) if (!KNOWN_VARIABLES.has(v)) found.push(`${where}: ${v} is not in the config schema`);
    }
  }

  for (const m of byKind('Service')) {
    const selector = asObject(asObject(m.doc.spec).selector);
    const target = byKind('Deployment').find((d) => {
      const labels = asObject(asObject(asObject(asObject(d.doc.spec).template).metadata).labels);
      return Object.entries(selector).every(([k, v]) => labels[k] === v);
    });
    if (!target) found.push(`${m.file}: Service ${m.name} selects no Deployment's pods`);
  }

  for (const m of byKind('ScaledObject')) {
    const where = `${m.file}: ScaledObject ${m.name}`;
    const spec = asObject(m.doc.spec);
    const target = String(asObject(spec.scaleTargetRef).name);
    if (!named('Deployment', target)) found.push(`${where}: scales ${target}, which is not a Deployment here`);
    // cooldownPeriod only applies to the step to 0.
    if (spec.cooldownPeriod !== undefined && spec.minReplicaCount !== 0)
      found.push(`${where}: cooldownPeriod does nothing unless minReplicaCount is 0`);
    const behavior = asObject(
      asObject(asObject(asObject(spec.advanced ?? {}).horizontalPodAutoscalerConfig ?? {}).behavior ?? {}),
    );
    if (typeof asObject(behavior.scaleDown ?? {}).stabilizationWindowSeconds !== 'number')
      found.push(`${where}: no scale-down stabilisation window`);
    for (const trigger of Array.isArray(spec.triggers) ? spec.triggers.map(asObject) : []) {
      const metadata = asObject(trigger.metadata);
      const query = String(metadata.query ?? '');
      if (trigger.type === 'prometheus') {
        // The gauge is exported per board replica: it must be reduced by max() before any sum().
        if (!/max\s*(by\s*\([^)]*\)\s*)?\(\s*djq_queue_jobs/.test(query))
          found.push(`${where}: the query must take max() over djq_queue_jobs (one value per replica): ${query}`);
        if (Number.isNaN(Number(metadata.threshold))) found.push(`${where}: threshold is not a number`);
      }
      const auth = trigger.authenticationRef;
      if (isObject(auth)) {
        const ta = named('TriggerAuthentication', String(auth.name));
        if (!ta) found.push(`${where}: TriggerAuthentication ${auth.name} is not defined`);
        for (const ref of Array.isArray(asObject(ta?.doc.spec ?? {}).secretTargetRef)
          ? (asObject(ta?.doc.spec).secretTargetRef as JsonObject[])
          : []) {
          if (!secretKeys(String(ref.name)).includes(String(ref.key)))
            found.push(`${where}: TriggerAuthentication reads ${ref.name}/${ref.key}, which no Secret has`);
        }
      }
    }
  }

  for (const m of byKind('ConfigMap').filter((c) => c.name === 'djq-prometheus-scrape')) {
    for (const [file, text] of Object.entries(asObject(m.doc.data))) {
      const scrape = asObject(parse(String(text)));
      const jobs = Array.isArray(scrape.scrape_configs) ? scrape.scrape_configs.map(asObject) : [];
      if (jobs.length === 0) found.push(`${m.file}: ${file} has no scrape_configs`);
      for (const job of jobs) if (typeof job.job_name !== 'string') found.push(`${m.file}: ${file}: a job has no name`);
    }
  }
  return found;
}

describe('deploy/k8s manifests', () => {
  const manifests = loadManifests();

  it('hold a worker, producer and board Deployment, their Secret, a ScaledObject and a scrape config', () => {
    const kinds = manifests.map((m) => `${m.kind}/${m.name}`);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'Deployment/djq-worker',
        'Deployment/djq-producer',
        'Deployment/djq-board',
        'Secret/djq-redis',
        'ScaledObject/djq-worker',
        'TriggerAuthentication/djq-prometheus',
        'ConfigMap/djq-prometheus-scrape',
      ]),
    );
  });

  it("are valid against the Kubernetes API schemas and KEDA's", () => {
    expect(schemaErrors(manifests)).toEqual([]);
  });

  it('the schema check catches a wrong type, a value outside an enum and a missing required field', () => {
    const broken = structuredClone(manifests);
    const worker = broken.find((m) => m.kind === 'Deployment' && m.name === 'djq-worker');
    const spec = asObject(worker?.doc.spec);
    spec.replicas = 'two';
    const container = asObject((asObject(asObject(spec.template).spec).containers as JsonObject[])[0]);
    container.imagePullPolicy = 'Sometimes';
    const scaled = broken.find((m) => m.kind === 'ScaledObject');
    delete asObject(asObject(scaled?.doc.spec).scaleTargetRef).name;
    const found = schemaErrors(broken).join('\n');
    expect(found).toMatch(/Deployment djq-worker: .*spec\/replicas must be integer/);
    expect(found).toMatch(/imagePullPolicy must be equal to one of the allowed values/);
    expect(found).toMatch(/ScaledObject djq-worker: .*scaleTargetRef must have required property name/);
  });

  it('are consistent: fields, references, known variables, a depth counted once', () => {
    expect(problems(manifests)).toEqual([]);
  });

  it('the checks catch a sum() over the depth gauge and a dangling reference', () => {
    const broken = structuredClone(manifests);
    const scaled = broken.find((m) => m.kind === 'ScaledObject');
    const trigger = asObject((asObject(scaled?.doc.spec).triggers as JsonObject[])[0]);
    asObject(trigger.metadata).query = 'sum(djq_queue_jobs{state="waiting"})';
    asObject(asObject(scaled?.doc.spec).scaleTargetRef).name = 'nope';
    const found = problems(broken);
    expect(found.join('\n')).toMatch(/must take max\(\)/);
    expect(found.join('\n')).toMatch(/scales nope/);
  });
});
