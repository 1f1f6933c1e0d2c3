// Which machines need a certificate: those serving an instance whose host names it covers (pure).
import { nameCovers } from './inspect-pair.ts';

/** An instance as far as certificates care: its host names and the machines it is placed on. */
export interface ServedInstance {
  hosts: readonly string[];
  machines: readonly string[];
}

/** A stored certificate as far as delivery cares: the host it was set for, or the default. */
export interface CertTarget {
  host: string;
  isDefault: boolean;
}

/**
 * Whether the certificate set for `certHost` serves an instance host: the same name, or `certHost`
 * is a wildcard covering it (`*.example.com` serves `shop.example.com`).
 */
export function certServesHost(certHost: string, instanceHost: string): boolean {
  return nameCovers(certHost, instanceHost);
}

/** The machines serving `certHost` (sorted, once each); a default certificate goes to every machine with an instance. */
export function machinesServing(target: CertTarget, instances: readonly ServedInstance[]): string[] {
  const out = new Set<string>();
  for (const i of instances) {
    if (target.isDefault || i.hosts.some((h) => certServesHost(target.host, h))) for (const m of i.machines) out.add(m);
  }
  return [...out].sort();
}

/** The certificates one machine should hold: those whose host one of its instances serves, and the default. */
export function certificatesFor<T extends CertTarget>(machine: string, certs: readonly T[], instances: readonly ServedInstance[]): T[] {
  const mine = instances.filter((i) => i.machines.includes(machine));
  return certs.filter((c) => machinesServing(c, mine).includes(machine));
}
