// ctest on the Release build (the product as shipped).
import { configureAndBuild } from '../build.mjs';
import { ctest } from './util.mjs';

export default function core() {
  configureAndBuild('release');
  return ctest('build/release');
}
