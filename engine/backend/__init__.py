"""Where bots run: the backend port (``port``), the registry of backends by kind (``registry``),
and one package per backend (``docker``: one Docker engine)."""
