// dependency-cruiser's configuration, generated from the import tables of docs/architecture.md
// when the lint starts (ADR 0018): edit the tables there, not rules here.
import { cruiseConfig } from './scripts/import-rules.ts';

export default cruiseConfig(process.cwd());
