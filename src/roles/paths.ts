// The systemd unit of a role. The unit makes the whole file system read-only and re-opens exactly
// the directories the role writes (ReadWritePaths=); they come from the resolved role layout
// (./layout.ts), the same object that gives the stages their paths, so the two cannot disagree.
// The campus template keeps `{radar}` as the instance specifier %i rather than listing every
// radar's directories: each instance can then write only its own radar's directories, and
// systemd-analyze verify/security accept %i there (they check the template as instance "i").
import {requireRadar} from '../lib/config/load.js'
import type {Config, Role} from '../lib/config/schema.js'
import {buildUnit, RADAR_PLACEHOLDER, type UnitFile} from '../lib/systemd/units.js'
import {ROLE_TABLE, roleWritePaths} from './layout.js'

export interface ServiceUnitOptions {
  role: Role
  /** --radar: campus → only checked (the unit is a template); others → passed to the daemon. */
  radar?: string
  user: string
  /** Home directory of the service user: `~/` in config paths means this, not the installer's home. */
  home: string
  binaryPath: string
  configFile: string
}

export interface ServiceUnitPlan {
  unit: UnitFile
  /**
   * The unit's writable directories as they will be on this host (campus: for --radar, or only
   * the radar-independent ones without it), for checking that they exist before the first start.
   */
  directories: string[]
}

/** The unit of one role, its ReadWritePaths taken from the role layout. */
export function serviceUnitForRole(config: Config, options: ServiceUnitOptions): ServiceUnitPlan {
  const {role, home} = options
  const radar = options.radar === undefined ? undefined : requireRadar(config, options.radar)
  const perRadar = ROLE_TABLE[role].perRadar
  // A non-template unit acts for one radar: the flag's, else the config's (unknown: all of them).
  const pathRadar = perRadar ? undefined : (radar ?? config.radar)
  const readWritePaths = roleWritePaths(config, role, pathRadar, {home})
  const unit = buildUnit({role, radar, user: options.user, binaryPath: options.binaryPath, configFile: options.configFile, readWritePaths})
  const directories =
    perRadar && radar !== undefined ? roleWritePaths(config, role, radar, {home}) : readWritePaths.filter((path) => !path.includes(RADAR_PLACEHOLDER))
  return {unit, directories}
}
