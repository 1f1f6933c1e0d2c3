import { test } from 'node:test';
import type { Store } from './store.ts';
import { appConfigContract } from './contract/app-config-contract.ts';
import { edgeCertificateContract } from './contract/edge-cert-contract.ts';
import { auditContract } from './contract/audit-contract.ts';
import { channelContract } from './contract/channel-contract.ts';
import { copiesContract } from './contract/copies-contract.ts';
import { coreContract } from './contract/core-contract.ts';
import type { WithStore } from './contract/fixtures.ts';
import { fleetFieldsContract } from './contract/fleet-fields-contract.ts';
import { haltContract } from './contract/halt-contract.ts';
import { instanceContract } from './contract/instance-contract.ts';
import { leaseContract } from './contract/lease-contract.ts';
import { machineContract } from './contract/machine-contract.ts';
import { placementContract } from './contract/placement-contract.ts';
import { problemContract } from './contract/problem-contract.ts';
import { settingsHoldContract } from './contract/settings-hold-contract.ts';

/**
 * The contract every `Store` implementation passes. Each implementation's test file calls this with
 * a factory that returns a fresh, empty store (and a cleanup); every test gets its own store, so
 * tests are independent, and none depends on timing.
 *
 * What it pins down beyond the port's comments, which every implementation must mirror:
 * - names (instances, channels, tokens, apps) order by code point, like SQLite's BINARY collation
 *   or PostgreSQL's `COLLATE "C"`; keyset paging of instances uses the same order;
 * - audit ids are 1, 2, 3… without gaps, even under concurrent appends, and the chain verifies;
 * - problem ids are 1, 2, 3…; channel move and halt ids only increase;
 * - lists: releases and deployments newest created first (ties: newest inserted first), audit and
 *   problems and halts by id descending, channel moves by id ascending, pointers by app then
 *   channel, holds by instance name;
 * - writes that take an audit entry store it in the same transaction; one that finds nothing to do
 *   (deleteHold, insertHalt, liftHalt) appends none, and one whose entry cannot be stored changes nothing;
 * - a `limit` of 0 returns nothing; writes to missing rows (saveInstanceState, updateChannel) are no-ops.
 */
export function storeContract(
  name: string,
  open: () => Promise<{ store: Store; cleanup: () => Promise<void> }>,
) {
  const withStore: WithStore = (title, fn) =>
    test(`${name}: ${title}`, async () => {
      const { store, cleanup } = await open();
      try {
        await fn(store);
      } finally {
        await store.close();
        await cleanup();
      }
    });

  coreContract(withStore);
  instanceContract(withStore);
  auditContract(withStore);
  channelContract(withStore);
  problemContract(withStore);
  copiesContract(withStore);
  fleetFieldsContract(withStore);
  settingsHoldContract(withStore);
  haltContract(withStore);
  leaseContract(withStore);
  machineContract(withStore);
  placementContract(withStore);
  appConfigContract(withStore);
  edgeCertificateContract(withStore);
}
