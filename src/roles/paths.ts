// Which directories each host role writes, read from the config. The systemd unit makes the
// whole file system read-only and re-opens exactly these (ReadWritePaths=), so a directory a
// stage writes but that is missing here shows up as EROFS in the service and nowhere else:
// a new stage that writes somewhere new must add its directory here.
// The campus template keeps `{radar}` as the instance specifier %i rather than listing every
// radar's directories: each instance can then write only its own radar's directories, and
// systemd-analyze verify/security accept %i there (they check the template as instance "i").
import {requireRadar, resolvePath} from '../lib/config/load.js'
import type {Config, Role} from '../lib/config/schema.js'
import {buildUnit, RADAR_PLACEHOLDER, type UnitFile} from '../lib/systemd/units.js'

export interface WritablePathOptions {
  /**
   * The radar the service acts for. Without it, borealis and site-linux cover every radar in
   * validRadars, and campus (a template unit, one instance per radar) keeps `{radar}` in its
   * paths: the unit builder turns it into the instance specifier %i, so each instance can write
   * only its own radar's directories.
   */
  radar?: string
  /** Home directory of the service user: `~/` in config paths means this, not the installer's home. */
  home: string
}

/** The config path templates a role writes, before `~` and `{radar}` are resolved. */
function templatesForRole(config: Config, role: Role, radar: string | undefined): string[] {
  const common = [config.logging.directory, config.state.directory]
  // NAS sites write to the NAS mount; the others keep data on the Site-Linux computer's disk.
  const nas = radar === undefined || config.nasSites.includes(radar)
  const local = radar === undefined || !config.nasSites.includes(radar)
  switch (role) {
    case 'borealis':
      // rsync_to_nas deletes the radar's file after a verified copy, hence the data directory.
      return [
        ...common,
        config.borealis.dataDirectory,
        config.borealis.quarantineDirectory,
        config.borealis.flagsDirectory,
        ...(nas ? [config.site.nasDataRoot] : []),
      ]
    case 'site-linux':
      // rsync_to_campus and transfer_cam_photos remove their sources; the flag that arrives
      // in the watch directory is deleted after the stages ran.
      return [
        ...common,
        ...(nas ? [config.site.nasDataRoot] : []),
        ...(local ? [config.site.siteLinuxDataRoot] : []),
        config.site.camDirectory,
        config.site.plotDirectory,
        config.site.watchDirectory,
        config.site.flagsDirectory,
      ]
    case 'campus':
      // camRoot is not here: photos arrive through sshd/rsync, not through this service.
      return [
        ...common,
        config.campus.dataDirectory,
        config.campus.holdingDirectory,
        config.campus.conversionFailureDirectory,
        config.campus.specialExperimentsDirectory,
        config.campus.archiveRoot,
        config.campus.plotsDirectory,
        config.campus.plotsArchiveDirectory,
        ...config.campus.staging.map((target) => target.path),
        config.campus.watchDirectory,
        config.campus.flagsDirectory,
      ]
  }
}

/**
 * The absolute directories `role` writes, in config order without duplicates. A path may
 * contain `{radar}` only for campus without a radar (see WritablePathOptions.radar).
 */
export function writablePathsForRole(config: Config, role: Role, options: WritablePathOptions): string[] {
  const {radar, home} = options
  const out: string[] = []
  for (const template of templatesForRole(config, role, radar)) {
    if (radar !== undefined || !template.includes(RADAR_PLACEHOLDER)) {
      out.push(resolvePath(template, {radar, home}))
    } else if (role === 'campus') {
      // Resolve `~` and check absoluteness now; the placeholder stays for the instance.
      out.push(resolvePath(template, {radar: RADAR_PLACEHOLDER, home}))
    } else {
      for (const id of config.validRadars) out.push(resolvePath(template, {radar: id, home}))
    }
  }
  return [...new Set(out)]
}

export interface ServiceUnitOptions {
  role: Role
  /** --radar: campus → only checked (the unit is a template); others → passed to the daemon. */
  radar?: string
  user: string
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

/** The unit of one role, its ReadWritePaths taken from the config. */
export function serviceUnitForRole(config: Config, options: ServiceUnitOptions): ServiceUnitPlan {
  const {role, home} = options
  const radar = options.radar === undefined ? undefined : requireRadar(config, options.radar)
  // A non-template unit acts for one radar: the flag's, else the config's (unknown: all of them).
  const pathRadar = role === 'campus' ? undefined : (radar ?? config.radar)
  const readWritePaths = writablePathsForRole(config, role, {radar: pathRadar, home})
  const unit = buildUnit({
    role,
    radar,
    user: options.user,
    binaryPath: options.binaryPath,
    configFile: options.configFile,
    readWritePaths,
  })
  const directories =
    role === 'campus' && radar !== undefined
      ? writablePathsForRole(config, role, {radar, home})
      : readWritePaths.filter((path) => !path.includes(RADAR_PLACEHOLDER))
  return {unit, directories}
}
