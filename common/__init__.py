"""Runtime plumbing shared by the services: settings, logging, AMQP, health."""
