-- The search pairs (`grams`) of messages and posts are computed by the views as they write a
-- row (projections/src/bigrams.rs), and each query's by the same code: in SQL they cost 29.5 µs
-- a message, most of a replay's time. The rows keep the pairs already computed.
ALTER TABLE chat_messages ALTER COLUMN grams DROP EXPRESSION;
ALTER TABLE chat_messages ALTER COLUMN grams SET DEFAULT '{}';
ALTER TABLE posts ALTER COLUMN grams DROP EXPRESSION;
ALTER TABLE posts ALTER COLUMN grams SET DEFAULT '{}';
DROP FUNCTION moim_bigrams(text);
