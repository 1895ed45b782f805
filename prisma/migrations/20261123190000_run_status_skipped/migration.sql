-- AlterEnum
ALTER TYPE "RunStatus" ADD VALUE 'skipped';
