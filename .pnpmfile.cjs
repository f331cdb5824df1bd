// pnpm runs dependency build scripts with a filtered environment, so node-gyp never sees npm's
// `nodedir` setting. Where no prebuilt better-sqlite3 binary can be downloaded (a machine that reaches
// only the npm registry) node-gyp would then try to fetch Node's headers from nodejs.org and fail.
// Most Node installs (distribution packages, the official tarballs, nvm) ship those headers under
// <prefix>/include/node; when they are there, point node-gyp at them through its own setting
// (npm_package_config_node_gyp_nodedir). Where they are not, node-gyp keeps its default behaviour.
const { existsSync } = require('node:fs');
const { dirname, join } = require('node:path');

const prefix = dirname(dirname(process.execPath));

module.exports = {
  hooks: {
    updateConfig(config) {
      if (!existsSync(join(prefix, 'include', 'node', 'node.h'))) return config;
      return { ...config, extraEnv: { ...config.extraEnv, npm_package_config_node_gyp_nodedir: prefix } };
    },
  },
};
