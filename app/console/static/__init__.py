"""CSS, scripts and the basemap of the console (a package so that setuptools ships them)."""
