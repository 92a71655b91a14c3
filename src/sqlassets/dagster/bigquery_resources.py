"""BigQuery resources: dagster-gcp's ``BigQueryResource``, plus one for emulators.

BigQuery assets take their client from the resource under the key ``bigquery``
— the ``BigQueryResource`` Dagster users already configure.
:class:`BigQueryEmulatorResource` only adds an emulator endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

from dagster_gcp import BigQueryResource
from google.cloud import bigquery
from pydantic import Field

from sqlassets.config import BigQueryTarget, Target


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


def bigquery_resource(target: Target) -> BigQueryResource:
    """The default ``bigquery`` resource of a target: on its emulator, if it names one."""
    settings = cast(BigQueryTarget, target)
    if settings.api_endpoint:
        return BigQueryEmulatorResource(
            project=settings.project,
            location=settings.location,
            api_endpoint=settings.api_endpoint,
        )
    return BigQueryResource(project=settings.project, location=settings.location)
