"""The one place that builds the Temporal client and its data converter."""

import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from core.codec import EncryptionCodec, load_keys
from core.settings import Settings


def payload_codec(settings: Settings) -> EncryptionCodec:
    return EncryptionCodec(load_keys(settings.payload_keys), settings.payload_key_id)


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic payloads encrypted by the AES-GCM codec.

    Failure messages and stack traces go into the encrypted attributes too: an exception's
    text can quote what it failed on.
    """
    return dataclasses.replace(pydantic_data_converter, payload_codec=payload_codec(settings),
                               failure_converter_class=DefaultFailureConverterWithEncodedAttributes)


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
    )
