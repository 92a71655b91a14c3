"""BigQuery resources: dagster-gcp's ``BigQueryResource``, plus one for emulators.

BigQuery assets take their client from the resource under the key ``bigquery``
— the ``BigQueryResource`` Dagster users already configure.
:class:`BigQueryEmulatorResource` only adds an emulator endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dagster_gcp import BigQueryResource
from google.cloud import bigquery
from pydantic import Field


class BigQueryEmulatorResource(BigQueryResource):
    """``BigQueryResource`` pointed at a BigQuery emulator (anonymous credentials)."""

    api_endpoint: str = Field(description="The emulator's URL, e.g. http://127.0.0.1:9050.")

    @contextmanager
    def get_client(self) -> Iterator[bigquery.Client]:
        """A client on the emulator endpoint."""
        from google.auth.credentials import AnonymousCredentials

        yield bigquery.Client(
            project=self.project,
            location=self.location,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": self.api_endpoint},
        )
