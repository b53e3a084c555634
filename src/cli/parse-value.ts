// Moved down to pvdata so that systems (the dashboard's writes) can use it too.
export * from '../pvdata/parse-value.js';
