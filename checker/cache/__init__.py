"""Results kept between runs, and what each depends on.

- ``keys``: every cache key (the one place a key component is added);
- ``identity``: the user's files, data files and environment variables a kernel depends on,
  observed (an audit hook and a walk over the kernel's globals and modules);
- ``store``: the cache directory's storage (signed JSON entries, regular files only, pruned);
- ``compile_cache``: compile verdicts; ``stages``: sampled configs, generated code and
  interpreter verdicts.

The README's "Compile and stage cache" says what is trusted and what a writable cache can do.
"""
