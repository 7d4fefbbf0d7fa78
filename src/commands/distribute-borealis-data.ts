import {StageCommand} from './stage-command.js'

export default class DistributeBorealisData extends StageCommand<typeof DistributeBorealisData> {
  static override summary = "Campus: check each DMAP file, stage it for VT/BAS/mirror (verified), archive it; then archive the HDF5 files"
  static override description =
    'Per DMAP file: bzip2 integrity test, strict DMAP read (CPID); CPIDs not in cpids.distributed go to ' +
    'special_experiments/YYYY/MM/ (their HDF5 partner is archived like the others); others are copied to every campus.staging target, each copy ' +
    'verified, then moved to <archiveRoot>/<rad>_rawacf_dmap/YYYY/MM/. Damaged or misnamed files go to the failure directory with ' +
    'their HDF5 partner and a .reason file; the other files go on. Then each HDF5 rawacf file is checked and archived in <rad>_rawacf/YYYY/MM/.'

  async run() {
    return this.runStageCommand('distribute-borealis-data')
  }
}
