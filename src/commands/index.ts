// The explicit command map (oclif "explicit" strategy): works inside a single executable,
// where oclif cannot discover command files on disk. Ids use ':'; users type spaces.
import type {Command} from '@oclif/core'
import {commands as helpCommands} from '@oclif/plugin-help'

import ConfigInit from './config/init.js'
import ConfigShow from './config/show.js'
import ConfigValidate from './config/validate.js'
import Doctor from './doctor.js'
import InstallService from './install-service.js'
import NamesBorealis from './names/borealis.js'
import NamesCheckTimestamp from './names/check-timestamp.js'
import NamesDmap from './names/dmap.js'

export const COMMANDS: Record<string, Command.Class> = {
  ...(helpCommands as Record<string, Command.Class>),
  'config:init': ConfigInit,
  'config:show': ConfigShow,
  'config:validate': ConfigValidate,
  doctor: Doctor,
  'install-service': InstallService,
  'names:borealis': NamesBorealis,
  'names:check-timestamp': NamesCheckTimestamp,
  'names:dmap': NamesDmap,
}
