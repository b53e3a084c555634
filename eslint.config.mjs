// Lint rules for src, test, bench and examples: ESLint's and typescript-eslint's recommended
// sets (tsc already checks types strictly; these catch what it does not).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // Fixtures include files that must not parse or that are CommonJS on purpose.
  { ignores: ['dist/**', 'node_modules/**', 'test/fixtures/processors/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // Unused parameters are checked by tsc (noUnusedParameters); an `_` prefix marks deliberate ones.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // Tests read status PVs and JSON lines as loose records.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // The dashboard page's modules run in the browser as they are (no build step).
    files: ['web/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'console',
          'fetch',
          'WebSocket',
          'TextDecoder',
          'TextEncoder',
          'atob',
          'btoa',
          'URL',
          'setTimeout',
          'clearTimeout',
          'setInterval',
          'clearInterval',
          'requestAnimationFrame',
          'performance',
          'ImageData',
          'OffscreenCanvas',
          'uPlot',
          'location',
          'ResizeObserver',
          'HTMLElement',
          'localStorage',
        ].map((g) => [g, 'readonly']),
      ),
    },
  },
);
