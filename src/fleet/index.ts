// Fleet: keeping every instance on its target, inside its own maintenance window.
export { parseWindow, formatWindow, windowAt, nextOpening, WEEKDAYS } from './maintenance-window.ts';
export type { MaintenanceWindow, WindowRule, Weekday, WindowState, Opening } from './maintenance-window.ts';
