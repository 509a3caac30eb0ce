"""The bundle's build backend: setuptools, with its data files in editable installs too.

``pip install -e .`` must put the two JupyterLab settings files of this folder into the
environment (``etc/jupyter/...``, see ``pyproject.toml``'s data-files): they switch off the
instructor's menus (formgrader, create assignment, course list) in a student's JupyterLab.
setuptools' editable build asks the distribution ``has_data()`` before installing data files,
a method it does not define (distutils calls it ``has_data_files``), so an editable install
silently skips them; this backend gives it that name and is otherwise setuptools unchanged.
"""

from setuptools import build_meta as _setuptools
from setuptools.dist import Distribution

if not hasattr(Distribution, "has_data"):
    Distribution.has_data = Distribution.has_data_files

get_requires_for_build_wheel = _setuptools.get_requires_for_build_wheel
get_requires_for_build_sdist = _setuptools.get_requires_for_build_sdist
get_requires_for_build_editable = _setuptools.get_requires_for_build_editable
prepare_metadata_for_build_wheel = _setuptools.prepare_metadata_for_build_wheel
prepare_metadata_for_build_editable = _setuptools.prepare_metadata_for_build_editable
build_wheel = _setuptools.build_wheel
build_sdist = _setuptools.build_sdist
build_editable = _setuptools.build_editable
