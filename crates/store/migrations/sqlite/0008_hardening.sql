-- Tokens act for the member who made them, with the lower of the two roles. A token made with
-- `keepwell token create` belongs to no member (the operator's) and keeps its own role; one whose
-- member was deleted (created_by set to NULL) is not the operator's and acts no more.
ALTER TABLE api_tokens ADD COLUMN operator BIGINT NOT NULL DEFAULT 0;
UPDATE api_tokens SET operator = 1 WHERE created_by IS NULL;
