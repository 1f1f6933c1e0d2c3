import type { AppConfigLayer } from '../store/index.ts';

/** The layer an entry came from when resolved: one of the stored layers, or the release's `env`. */
export type SourceLayer = AppConfigLayer | { kind: 'release' };

/** What an instance is matched on: its name, its app and its `environment` field. */
export interface InstanceScope {
  instance: string;
  app: string;
  environment: string;
}

/** Lowest first: a later layer's value replaces an earlier one's. */
export const LAYER_ORDER: readonly SourceLayer['kind'][] = ['release', 'app', 'environment', 'app-environment', 'instance'];

export function layerRank(layer: SourceLayer): number {
  return LAYER_ORDER.indexOf(layer.kind);
}

/** Whether a stored layer applies to the instance. */
export function layerApplies(layer: AppConfigLayer, scope: InstanceScope): boolean {
  switch (layer.kind) {
    case 'app':
      return layer.app === scope.app;
    case 'environment':
      return layer.environment === scope.environment;
    case 'app-environment':
      return layer.app === scope.app && layer.environment === scope.environment;
    case 'instance':
      return layer.instance === scope.instance;
  }
}

/** The layers that apply to an instance, lowest first: the ones a missing key was looked for in. */
export function layersOf(scope: InstanceScope): SourceLayer[] {
  return [
    { kind: 'release' },
    { kind: 'app', app: scope.app },
    { kind: 'environment', environment: scope.environment },
    { kind: 'app-environment', app: scope.app, environment: scope.environment },
    { kind: 'instance', instance: scope.instance },
  ];
}

/** A layer in words, as the CLI flags name it (`--app shop --environment production`). */
export function layerLabel(layer: SourceLayer): string {
  switch (layer.kind) {
    case 'release':
      return 'release env';
    case 'app':
      return `app ${layer.app}`;
    case 'environment':
      return `environment ${layer.environment}`;
    case 'app-environment':
      return `app ${layer.app} + environment ${layer.environment}`;
    case 'instance':
      return `instance ${layer.instance}`;
  }
}

export function sameLayer(a: AppConfigLayer, b: AppConfigLayer): boolean {
  return layerLabel(a) === layerLabel(b);
}

/** The flags a command gives, as a layer; exactly one shape is valid, else why not. */
export function layerFromFlags(flags: { app?: string; environment?: string; instance?: string }): AppConfigLayer | string {
  const { app, environment, instance } = flags;
  if (instance !== undefined) {
    if (app !== undefined || environment !== undefined) return '--instance cannot be combined with --app or --environment';
    return { kind: 'instance', instance };
  }
  if (app !== undefined && environment !== undefined) return { kind: 'app-environment', app, environment };
  if (app !== undefined) return { kind: 'app', app };
  if (environment !== undefined) return { kind: 'environment', environment };
  return 'say where the value applies: --app, --environment, both, or --instance';
}
