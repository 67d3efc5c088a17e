"""Tools around the library, not part of its API: ``python -m fastq`` (``cli``), the benchmark
(``plan``, ``tasks``, ``timing``, ``checks``, ``machine``, ``report``), the demo (``demo``) and
the OpenBLAS-environment policy every measuring tool follows (``env``).

The library modules (``fastq.quantizers``, ``fastq.binary``, ...) never import from here.
"""
