"""The Docker backend: one Docker engine, its containers, supervisord inside pool containers, and
the bots' files in runtime directories on this host, bind-mounted."""
