"""Client of DIAN's validation web service (WcfDianCustomerServices) and the transmitter using it.

- ``envelope``: the signed SOAP 1.2 / WS-Addressing / WS-Security request;
- ``client``: the operations (SendBillSync, SendTestSetAsync, GetStatus, GetStatusZip,
  GetNumberingRange), raw exchanges and retryable errors;
- ``responses``: DIAN's answers as frozen dataclasses;
- ``files``: the ZIP-in-base64 convention and DIAN's file names;
- ``transmitter``: ``DianTransmitter``, the ``EINVOICE_TRANSMITTER`` that sends invoices.

Nothing here but ``transmitter`` knows about invoices or the database.
"""
