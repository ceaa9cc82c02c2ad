"""``ray``: one Ray task per point, on an existing cluster (``--address``) or a local Ray instance.

Ray schedules the tasks (each asks for ``cpus_per_task`` CPUs and, when CUDA is present, a
fraction of a GPU so that ``workers`` tasks share one), retries a task whose worker died, and
returns results through its object store. Ray is an optional extra: ``pip install -e ".[ray]"``.
Every node must be able to import ``lazyartist_cli`` and see the runs directory (a shared path).
"""

from __future__ import annotations

from ..errors import LazyError, UsageError
from .base import Executor, collect, cpu_count


class RayExecutor(Executor):
    name = "ray"

    def run(self, fn, jobs, reporter):
        try:
            import ray
        except ImportError:
            raise UsageError('--executor ray needs Ray: pip install -e ".[ray]"') from None
        import torch

        started_here = not ray.is_initialized()
        if started_here:
            try:
                if self.address:
                    ray.init(address=self.address, log_to_driver=False)
                else:
                    ray.init(num_cpus=min(self.workers, cpu_count()), include_dashboard=False, log_to_driver=False)
            except Exception as exc:  # noqa: BLE001 - Ray raises several types for an unreachable or refusing cluster
                where = f"the Ray cluster at {self.address}" if self.address else "a local Ray instance"
                raise LazyError(f"cannot start or reach {where}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        try:
            total_cpus = int(ray.cluster_resources().get("CPU", 1))
            cpus = min(total_cpus, max(1, int(jobs[0].get("threads") or 1))) if jobs else 1
            gpus = (1.0 / self.workers) if torch.cuda.is_available() else 0
            task = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=2)(fn)
            handles = {task.remote(job): i for i, job in enumerate(jobs)}
            return collect(handles, jobs, max(1, total_cpus // cpus), lambda hs: ray.wait(hs, num_returns=1)[0], ray.get,
                           "ray task failed", reporter)
        finally:
            if started_here:
                ray.shutdown()
