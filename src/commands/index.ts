// The explicit command map (oclif "explicit" strategy): works inside a single executable,
// where oclif cannot discover command files on disk. Ids use ':'; users type spaces.
import type {Command} from '@oclif/core'
import {commands as helpCommands} from '@oclif/plugin-help'

import ArchiveIqPlots from './archive-iq-plots.js'
import ConfigInit from './config/init.js'
import ConfigShow from './config/show.js'
import ConfigValidate from './config/validate.js'
import Convert from './convert.js'
import ConvertOnCampus from './convert-on-campus.js'
import Daemon from './daemon.js'
import DistributeBorealisData from './distribute-borealis-data.js'
import DmapCheck from './dmap/check.js'
import DmapDump from './dmap/dump.js'
import Doctor from './doctor.js'
import Hdf5Check from './hdf5/check.js'
import InstallService from './install-service.js'
import NamesBorealis from './names/borealis.js'
import NamesCheckTimestamp from './names/check-timestamp.js'
import NamesDmap from './names/dmap.js'
import PlotAntennasIq from './plot-antennas-iq.js'
import PlotIq from './plot-iq.js'
import RsyncToCampus from './rsync-to-campus.js'
import RsyncToNas from './rsync-to-nas.js'
import TransferCamPhotos from './transfer-cam-photos.js'

export const COMMANDS: Record<string, Command.Class> = {
  ...(helpCommands as Record<string, Command.Class>),
  'archive-iq-plots': ArchiveIqPlots,
  'config:init': ConfigInit,
  'config:show': ConfigShow,
  'config:validate': ConfigValidate,
  convert: Convert,
  'convert-on-campus': ConvertOnCampus,
  daemon: Daemon,
  'distribute-borealis-data': DistributeBorealisData,
  'dmap:check': DmapCheck,
  'dmap:dump': DmapDump,
  doctor: Doctor,
  'hdf5:check': Hdf5Check,
  'install-service': InstallService,
  'names:borealis': NamesBorealis,
  'names:check-timestamp': NamesCheckTimestamp,
  'names:dmap': NamesDmap,
  'plot-antennas-iq': PlotAntennasIq,
  'plot-iq': PlotIq,
  'rsync-to-campus': RsyncToCampus,
  'rsync-to-nas': RsyncToNas,
  'transfer-cam-photos': TransferCamPhotos,
}
