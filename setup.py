"""The one compiled module, service/_speedups.c (service/speedups.py says why);
everything else about the package is in setup.cfg. Optional: where it does
not compile, the package installs without it and runs the Python loops."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("service._speedups", ["service/_speedups.c"], optional=True)])
