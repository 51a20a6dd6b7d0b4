// cgroup drivers (v1 and v2) behind one interface. Engine code calls detectCgroupDriver() once and uses the driver.
export type { CgroupDriver, CgroupLimits, CgroupStats, CgroupView, CgroupViewMount, CreateResult, DeviceRule } from './types.js';
export { detectCgroupDriver } from './detect.js';
export type { DetectOptions } from './detect.js';
export type { CgroupSys } from './sys.js';
export { cpuWeightFromShares, formatDeviceRule, parseDeviceRule } from './limits.js';
export { ALLOW_ALL_DEVICES, checkDeviceAccess, DEFAULT_DEVICE_RULES, devicesAllow } from './devices.js';
