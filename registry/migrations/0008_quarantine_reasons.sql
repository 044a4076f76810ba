-- Reasons for what an untrusted agency can send besides bad records (issue 10): a link or redirect to an
-- origin the connection is not pinned to, an answer that breaks the agency's protocol (a second SOAP Body, a
-- page that is not JSON), and text whose letters show it was decoded with the wrong Cyrillic code page.
ALTER TABLE quarantine DROP CONSTRAINT quarantine_reason_code_check;
ALTER TABLE quarantine ADD CONSTRAINT quarantine_reason_code_check CHECK (reason_code IN
    ('parse_error', 'xsd_violation', 'mapping_error', 'invalid_identifier', 'validation_error',
     'transport_error', 'hostile_input', 'origin_violation', 'protocol_violation', 'encoding_mismatch'));
