// The processors Sluice ships, by the names --processor-class accepts: the class names, two
// older names of the file writers, and PvaPy's class paths of the processors PvaPy ships too.
// The loader looks names up here only; adding a built-in means adding it to this table.
import { AdImageProcessor } from '../ad-image-processor.js';
import { UserDataProcessor, type ProcessorConfig } from '../user-data-processor.js';
import { DataDecryptor, AdImageDataDecryptor } from './decryptor.js';
import { AdImageDataEncryptor, DataEncryptor } from './encryptor.js';
import { Hdf5AdImageWriter } from './hdf5-writer.js';
import { AdOutputFileProcessor } from './image-file-writer.js';

export type ProcessorClass = new (config: ProcessorConfig) => UserDataProcessor;

/** Name → class. ImageFileWriter and Hdf5ImageWriter are other names of the PvaPy classes. */
export const BUILTIN_PROCESSORS: Readonly<Record<string, ProcessorClass>> = Object.freeze({
  UserDataProcessor,
  AdImageProcessor,
  AdOutputFileProcessor,
  ImageFileWriter: AdOutputFileProcessor,
  Hdf5AdImageWriter,
  Hdf5ImageWriter: Hdf5AdImageWriter,
  DataEncryptor,
  AdImageDataEncryptor,
  DataDecryptor,
  AdImageDataDecryptor,
});

/** PvaPy's class path (pvapy.hpc.<module>.<Class>) → the name of Sluice's processor. */
export const PVAPY_PROCESSOR_PATHS: Readonly<Record<string, string>> = Object.freeze({
  'pvapy.hpc.userDataProcessor.UserDataProcessor': 'UserDataProcessor',
  'pvapy.hpc.adImageProcessor.AdImageProcessor': 'AdImageProcessor',
  'pvapy.hpc.adOutputFileProcessor.AdOutputFileProcessor': 'AdOutputFileProcessor',
  'pvapy.hpc.hdf5AdImageWriter.Hdf5AdImageWriter': 'Hdf5AdImageWriter',
  'pvapy.hpc.dataEncryptor.DataEncryptor': 'DataEncryptor',
  'pvapy.hpc.adImageDataEncryptor.AdImageDataEncryptor': 'AdImageDataEncryptor',
  'pvapy.hpc.dataDecryptor.DataDecryptor': 'DataDecryptor',
  'pvapy.hpc.adImageDataDecryptor.AdImageDataDecryptor': 'AdImageDataDecryptor',
});

/** The built-in processor a name or PvaPy class path stands for, with its registry name. */
export function builtinProcessor(nameOrPath: string): { name: string; ctor: ProcessorClass } | undefined {
  const name = Object.hasOwn(PVAPY_PROCESSOR_PATHS, nameOrPath) ? PVAPY_PROCESSOR_PATHS[nameOrPath]! : nameOrPath;
  if (!Object.hasOwn(BUILTIN_PROCESSORS, name)) return undefined;
  return { name, ctor: BUILTIN_PROCESSORS[name]! };
}
