// A jail's cgroup: the host's layout, the emperor's subtree, limits, stats and kill.
export { type CgroupHierarchy, type CgroupLayout, describeLayout, parseLayout, readLayout } from './layout';
export { type CgroupSupport, type Unsupported, REFUSED_OPTS, scaleIoWeight, unsupportedLimits } from './limits';
export { CgroupTree, type PrepareOptions } from './tree';
export { type CgroupDirs, closeLaunchFds, type JailCgroup, openLaunchFdsFor } from './jail';
export { type KillMethod } from './kill';
export { type CgroupLimitValues, type CgroupStats, statsReader, type StatsReader, type StatsSources } from './stats';
