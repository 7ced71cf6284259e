"""The bus's web face for systems that cannot speak Kafka (issue 19): a REST API over the SDK."""
