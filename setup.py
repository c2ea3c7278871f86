"""What pyproject.toml does not say: the packages, the hook scripts and the C accelerator.

* Packages come from src/; the git hook scripts (hooks/) are shipped inside the package as
  aiguard/_hooks, where `aiguard install` finds them.
* aiguard.core._speedups (src/aiguard/core/_speedups.c) is optional: where no C compiler or no
  Python headers exist, the build says so and goes on without it, and aiguard runs its
  pure-Python reference (aiguard.core.fingerprint) instead.
"""

from setuptools import Extension, find_packages, setup

setup(
    packages=find_packages("src") + ["aiguard._hooks"],
    package_dir={"": "src", "aiguard._hooks": "hooks"},
    package_data={"aiguard": ["data/*"], "aiguard._hooks": ["*"]},
    exclude_package_data={"aiguard": ["*.c"]},
    ext_modules=[Extension("aiguard.core._speedups", ["src/aiguard/core/_speedups.c"], optional=True)],
)
