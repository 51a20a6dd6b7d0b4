// `GET /containers/{id}/stats` in Docker's shape: one sample, with the sample before it as `precpu_stats`.
import type { ContainerUsage } from '../../engine/containers/runtime.js';

export interface StatsSample { usage: ContainerUsage; read: string }

function cpuStats(u: ContainerUsage | undefined): Record<string, unknown> {
  if (u === undefined) return { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, system_cpu_usage: 0, online_cpus: 0, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
  return { cpu_usage: { total_usage: u.cpuUsageNanos, usage_in_kernelmode: 0, usage_in_usermode: 0 }, system_cpu_usage: u.systemCpuNanos,
    online_cpus: u.onlineCpus, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
}

export function dockerStats(rec: { id: string; name: string }, now: StatsSample, before: StatsSample | undefined): Record<string, unknown> {
  const u = now.usage;
  const blockIo = (u.blockIo ?? []).map((e) => ({ major: e.major, minor: e.minor, op: e.op, value: e.value }));
  return {
    id: rec.id, name: `/${rec.name}`, read: now.read, preread: before?.read ?? '0001-01-01T00:00:00Z',
    cpu_stats: cpuStats(u), precpu_stats: cpuStats(before?.usage),
    memory_stats: { usage: u.memoryUsageBytes, limit: u.memoryLimitBytes, stats: {} },
    pids_stats: { current: u.pids },
    blkio_stats: { io_service_bytes_recursive: blockIo, io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null,
      io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null },
    num_procs: 0, storage_stats: {},
    ...(u.networks ? { networks: u.networks } : {}),
  };
}
